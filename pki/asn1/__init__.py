"""ASN.1 declarations the standard libraries lack (SM2/SM3 OIDs, GB/T 35275, GB/T 38540)."""
