"""Integration: connections to other systems (ERP first), sync runs, quarantine, outbound."""
