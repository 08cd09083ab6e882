"""Pure text understanding: normalising what patients write, keywords, crisis phrases. No database."""
