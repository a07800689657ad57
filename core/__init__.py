"""Shared infrastructure without models: spreadsheets, PDFs, charts, dates, counters and such.

Not a Django app. Every app may import it; it imports none of them, so what a row, a document
or a number means stays in the app that owns it and only the mechanism lives here.
"""
