"""Electronic licences (电子证照): templates, rendering, QR verification, the issue pipeline."""
