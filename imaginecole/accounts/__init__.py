"""Accounts of the people who edit or contribute, signing in and out, and what each role may do."""
