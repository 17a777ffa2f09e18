"""Analytics: rollups maintained on write, and the queries, api and CLI that answer from them."""
