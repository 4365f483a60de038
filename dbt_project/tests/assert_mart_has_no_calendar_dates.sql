{#
  "Calendar dates do not appear here: relative days and infusion year only." Returns every
  column of the mart schema with a date or time type.
  depends_on: {{ ref('patient_outcomes') }} {{ ref('daily_toxicity') }} {{ ref('time_to_event') }}
  {{ ref('cohort_flow') }} {{ ref('grade_concordance') }}
#}
select table_name, column_name, data_type
from information_schema.columns
where table_schema = '{{ ref('patient_outcomes').schema }}'
    and (data_type like 'DATE%' or data_type like 'TIMESTAMP%' or data_type like 'TIME%'
        or data_type like 'INTERVAL%')
