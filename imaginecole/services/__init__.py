"""All writes and business rules. No request or session access here: callers pass plain values."""
