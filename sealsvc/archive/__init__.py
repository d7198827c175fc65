"""Archive care: B-LTA renewal, archive information packages, offline re-verification.

* :mod:`.extend` — the B-LTA renewal of one PDF (``sealctl archive extend``);
* :mod:`.renew` — scheduled renewal of stored licences (``sealctl archive renew``);
* :mod:`.package` — export one record as a sealed package (``sealctl archive export``);
* :mod:`.import_check` — re-verify a package alone, offline (``sealctl archive import-check``).
"""

from sealsvc.archive.extend import ArchiveExtender, Extension

__all__ = ["ArchiveExtender", "Extension"]
