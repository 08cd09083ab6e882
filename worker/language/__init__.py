"""Pure text understanding: normalising what patients write, keywords, crisis screening. No database."""
