"""Teachers write and submit resources; reviewers of the national team decide on them."""
