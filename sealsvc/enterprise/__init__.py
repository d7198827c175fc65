"""Enterprise e-seal sets issued with the 营业执照 (the "1+X" reform, issue #21 §2).

``catalogue`` says which seals a set has and how each looks and is certified;
``registry`` records enterprises and reports their sets; ``issuance`` makes a set inside a
transaction (with a new licence, or for an existing one); ``lifecycle`` revokes a set when
its licence is annulled. The modules are imported by name: ``lifecycle`` is called from
the licence pipeline, and ``issuance`` calls the pipeline.
"""
