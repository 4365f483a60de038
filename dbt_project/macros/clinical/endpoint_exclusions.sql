{#
  Endpoints excluded because an event is dated before its clock starts (clinical-rules.md,
  "Survival endpoints": a survival time is never negative). Each reason: the endpoint, the
  cohort_flow step whose population loses the patient, the reason's order within that step in
  cohort_exclusions, and the words. The same list feeds int_endpoint_exclusions (one row per
  patient and endpoint), cohort_flow and cohort_exclusions, so counts and words cannot drift.
#}
{% macro endpoint_exclusion_reasons() -%}
{{ return([
    {'endpoint': 'response', 'step_order': 4, 'reason_order': 2,
     'code': 'cr_before_infusion',
     'reason': 'a CR assessment dated before the index infusion and no CR on days '
        ~ var('response_window_first_day') ~ '–' ~ var('response_window_last_day')
        ~ ' (queried to the centre)'},
    {'endpoint': 'OS', 'step_order': 6, 'reason_order': 1,
     'code': 'death_before_infusion',
     'reason': 'death dated before the index infusion (queried to the centre)'},
    {'endpoint': 'LFS', 'step_order': 7, 'reason_order': 1,
     'code': 'event_before_infusion',
     'reason': 'relapse or death dated before the index infusion (queried to the centre)'},
    {'endpoint': 'LFS', 'step_order': 7, 'reason_order': 2,
     'code': 'event_before_cr',
     'reason': 'relapse or death dated after the infusion but before the CR date '
        ~ '(queried to the centre)'},
]) }}
{%- endmacro %}

{# The reasons as a SQL values list: (endpoint, step_order, reason_order, code, reason). #}
{% macro endpoint_exclusion_reason_rows() -%}
(values
    {%- for r in endpoint_exclusion_reasons() %}
    ('{{ r.endpoint }}', {{ r.step_order }}, {{ r.reason_order }}, '{{ r.code }}', '{{ r.reason }}')
    {{- ',' if not loop.last }}
    {%- endfor %}
) as endpoint_exclusion_reasons (endpoint, step_order, reason_order, reason_code, reason)
{%- endmacro %}
