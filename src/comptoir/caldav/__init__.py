"""Two-way CalDAV sync of each user's agenda with their CRM activities (issue 16, part 4)."""
