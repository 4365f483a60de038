{# Daily grades exist only for study days 0 .. var('toxicity_window_days'). #}
select patient_key, study_day
from {{ ref('int_daily_toxicity_graded') }}
where study_day < 0 or study_day > {{ var('toxicity_window_days') }}
