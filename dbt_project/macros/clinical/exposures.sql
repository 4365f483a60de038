{#
  The exposures of the robustness analyses (toxicities and treatments that start after day 0),
  in display order: the column prefixes of patient_exposures and the 0/1 columns of
  exposure_intervals. analysis_assets.study.ROBUSTNESS_EXPOSURES names the same exposures
  (tests/test_exposure_intervals.py checks that they agree).
#}
{% macro robustness_exposures() -%}
{{ return(['crs', 'icans', 'grade_3_plus', 'steroids', 'tocilizumab']) }}
{%- endmacro %}
