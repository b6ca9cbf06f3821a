"""newsbot's spiders: they decide what to fetch; page objects read what comes back."""
