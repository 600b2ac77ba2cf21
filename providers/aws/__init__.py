"""AWS implementation of the neutral provider interfaces (the only place with AWS bindings)."""
