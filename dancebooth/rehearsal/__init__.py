"""``dancebooth rehearse``: the booth's production topology run on one machine, with faults.

One concept per module:

* :mod:`.configs` — the files each deployable reads: Mosquitto's production.conf with
  per-node accounts, ACL and TLS; ``cloud.yaml``; one YAML per edge node;
* :mod:`.topology` — what runs, in which order: Mosquitto, PostgreSQL, S3 (moto), the
  relay, API × 2, uploaders × 2, workers × 2, edge nodes × 2;
* :mod:`.certs` — a private CA and a certificate for 127.0.0.1;
* :mod:`.processes` — each part an OS process, restarted when it dies;
* :mod:`.relay` — the SMTP relay (STARTTLS + login) that can refuse or go silent;
* :mod:`.driver` — the kiosk, the operator and the dashboard's event stream, over HTTP;
* :mod:`.faults` — what is broken, when, and how;
* :mod:`.checks` — mail, links, frames, database and deletion, checked from outside;
* :mod:`.report` — the table per visitor and the last line;
* :mod:`.command` — the command that runs them in that order.
"""
