"""Water sites (黑臭水体): the register and its QR labels, patrols with proof of presence, monthly
coverage and missed patrols (漏巡), maps."""
