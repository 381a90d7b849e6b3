"""Value profiles: a user's stated values (Janus's four dimensions), validated and stored."""
