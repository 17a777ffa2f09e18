"""Analytics, the read side: research questions answered from the rollups ``dream.storage``
keeps (or from raw rows), and the api and CLI that ask them."""
