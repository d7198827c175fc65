"""The seal domain of sealsvc: departments, seals, lifecycle, sealing, verification, licences.

Built on ``pki`` (which knows nothing of seals); used by ``api`` (which adds only HTTP).
"""
