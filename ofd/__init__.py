"""The OFD format (GB/T 33190): package, XML, pages and signatures; no notion of seals."""
