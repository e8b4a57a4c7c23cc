"""Messages to customers as ops see them (list, retry, replay) and as customers act on their
links (unsubscribe; the delay answer is ``respondToDelay(linkToken:)``)."""
