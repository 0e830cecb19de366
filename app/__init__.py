"""Newslot: reschedule or cancel an interview politely."""
