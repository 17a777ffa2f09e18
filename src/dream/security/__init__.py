"""Who may do what (keys, roles, limits) and what personal data never reaches storage."""
