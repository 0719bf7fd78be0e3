"""Chart patterns: the pattern cache and scan, live pattern streams, the fallback detector and their rules."""
