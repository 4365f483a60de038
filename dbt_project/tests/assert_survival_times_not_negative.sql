{{ config(severity='warn') }}
{#
  Quality finding (warning): an endpoint ending before its origin, e.g. a death or last record
  dated before the index infusion or before the CR date.
#}
select patient_key, paramcd, aval_days
from {{ ref('time_to_event') }}
where aval_days < 0
