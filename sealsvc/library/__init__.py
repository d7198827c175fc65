"""The licence library (电子证照库, issue #21 §1): licences other departments may use.

* :mod:`.entries` — one view of a licence, issued here (read from the licence registry) or
  collected; its status says ``expired`` once the validity period has ended;
* :mod:`.collect` — 归集: other issuing systems push sealed licences, verified on entry
  against :mod:`.trust`, the roots an admin configured for the library;
* :mod:`.sharing` — 共享/用证 and 核验: look-ups by holder and type, face data, files and
  status checks, each with its 用证事由 (:class:`~.sharing.Purpose`), within the grants of
  :mod:`.grants`, every use audited;
* :mod:`.showcodes` — 亮证: a holder-authorised one-time code for a counter clerk;
* :mod:`.changes` — the change feed, read from the audit log;
* :mod:`.usage` — the officers' report per department and purpose;
* :mod:`.holders` — credit codes and ID numbers (these only hashed and masked).
"""
