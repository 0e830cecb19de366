"""What the interviewer receives: the letters, the calendar invites and the email around them."""
