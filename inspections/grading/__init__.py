"""Village grading: checklists, campaigns and rounds, village assessments, scores and published
grades (A/B/C/薄弱)."""
