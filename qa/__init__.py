"""Data-driven coaching: QA evaluations in, coaching rules that suggest sessions from them, and the
effect of coaching on the scores (per session and as a report beside an un-coached baseline)."""
