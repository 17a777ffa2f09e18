"""The web side: the HTTP api (snapshots in, answers out), composed from routers in app.py."""
