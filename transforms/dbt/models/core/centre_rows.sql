-- Feed B as it stands: the rows of the latest delivery of each centre-day.
{{ latest_delivery(ref('centre_deliveries'), 'centre_code') }}
