{#
  Worst value of a code over the rows of a group (an aggregate): the codes are listed from
  least to most severe; null when no row has a listed code.
  e.g. worst_code('seizure', ['none', 'resolved_rapidly', 'prolonged_or_repetitive']).
  For a modifier such as fever_other_cause the "worst" order is ['yes', 'no']: one row saying
  the fever has no other cause outweighs another row attributing it (the toxicity counts),
  while a row that left the field empty does not undo an attribution.
#}
{% macro worst_code(column, ordered_codes) -%}
case max(case {{ column }}
        {%- for code in ordered_codes %}
        when '{{ code }}' then {{ loop.index0 }}
        {%- endfor %}
    end)
    {%- for code in ordered_codes %}
    when {{ loop.index0 }} then '{{ code }}'
    {%- endfor %}
end
{%- endmacro %}


{# Days to months, as the study counts them. #}
{% macro days_to_months(days) -%}
({{ days }}) / 30.4375
{%- endmacro %}


{# The data cut-off as a DATE: var('cutoff') (dbt_project.yml; `cartwh refresh` passes
   CARTWH_CUTOFF). Models use this macro rather than reading the var themselves. #}
{% macro cutoff_date() -%}
cast('{{ var("cutoff") }}' as date)
{%- endmacro %}
