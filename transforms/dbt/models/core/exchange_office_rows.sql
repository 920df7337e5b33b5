-- Feed A as it stands: the rows of the latest delivery of each office-day.
{{ latest_delivery(ref('exchange_office_deliveries'), 'office_code') }}
