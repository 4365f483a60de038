{#
  Does one response assessment show CR (clinical-rules.md, "Response (day 30)"):
  marrow blasts < 5 %, no circulating blasts, no extramedullary disease (not_assessed and
  missing count as no known disease), regardless of count recovery. Without a marrow blast
  count an assessment cannot show CR.
#}
{% macro assessment_shows_cr(bm_blasts_pct, circulating_blasts, extramedullary_disease) -%}
coalesce(
    {{ bm_blasts_pct }} < 5
    and coalesce({{ circulating_blasts }}, 'no') <> 'yes'
    and coalesce({{ extramedullary_disease }}, 'no') <> 'yes',
    false
)
{%- endmacro %}

{# MRD negativity threshold of the study: < 0.01 % of nucleated cells. #}
{% macro mrd_negative(mrd_pct) -%}
coalesce({{ mrd_pct }} < 0.01, false)
{%- endmacro %}
