"""Statistics: roll hits up into summary tables and read them."""
