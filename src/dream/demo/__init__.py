"""``dream demo``: realistic demo data, ingested through the api, for a live dashboard at once.

A campus of ``--hosts`` machines spread over ``--faculties``, each machine with an OS that suits
its faculty (engineering runs Linux, arts Macs, law and business Windows...) and a few users.
Over the last ``--days`` days every machine takes a snapshot at most once an hour, more often
during the working day than at night and on weekdays than at weekends (the diurnal pattern);
what is open depends on the faculty (law: Word, Acrobat, Chrome, Teams; engineering: MATLAB,
SolidWorks, Python, VS Code; medicine: SPSS, R, Excel...) and on the hour.

Every listing is laid out as the real tool prints it: procps ``ps aux`` on Linux, BSD ``ps aux``
on macOS, ``tasklist /v`` on Windows (CRLF, fixed-width columns), so the api parses them with
the same code as real ones. Snapshot ids derive from the seed, host and time: running the demo
again within the same hour posts the same snapshots, which the api stores once.

Modules: campus.py (machines, users, the applications each faculty opens and when, from the
data file campus.toml: applications, faculty profiles, system processes, names), listings.py
(each listing laid out as its tool prints it: the one listing generator, which bench/ and the
tests use too), history.py (a campus's snapshot bodies over days), post.py (posting them through
the api), command.py (``dream demo``).
"""
