"""Teachers write and submit resources on a school server; the outbox carries them upstream."""
