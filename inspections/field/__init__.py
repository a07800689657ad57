"""Field capture on the phone, with or without network: the app's manifest and service worker,
the pack of sites and jobs a phone downloads for the day, the offline scan page and the queue
page (the queue itself lives on the phone: static/js/field_queue.js)."""
