"""HTTP layer of sealsvc (FastAPI): requests in, problem+json or bytes out, no domain logic."""
