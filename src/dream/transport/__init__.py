"""How snapshots travel from the api to the worker: the contract and its transports."""
