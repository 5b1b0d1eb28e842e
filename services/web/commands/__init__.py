"""What members do through the web edge: from the pages (`pages.py`) and from chat (`chat.py`)."""
