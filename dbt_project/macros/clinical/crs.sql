{#
  ASTCT 2019 CRS grading of one day (clinical-rules.md, "CRS grade of one day").
  Every macro takes SQL expressions of canonical codes/values and returns an expression.
#}

{# Hypotension domain: 4 two or more vasopressors (vasopressin excluded), 3 one vasopressor
   (with or without vasopressin) or vasopressin alone, 2 hypotension without vasopressor.
   A vasopressor in use counts even when hypotension is not ticked. #}
{% macro crs_hypotension_grade(vasopressor_count, vasopressin, hypotension) -%}
case
    when {{ vasopressor_count }} >= 2 then 4
    when {{ vasopressor_count }} = 1 or {{ vasopressin }} = 'yes' then 3
    when {{ hypotension }} = 'yes' then 2
    else 0
end
{%- endmacro %}

{% macro crs_hypotension_driver(vasopressor_count, vasopressin, hypotension) -%}
case
    when {{ vasopressor_count }} >= 2 then 'two_vasopressors'
    when {{ vasopressor_count }} = 1 then 'one_vasopressor'
    when {{ vasopressin }} = 'yes' then 'vasopressin'
    when {{ hypotension }} = 'yes' then 'hypotension_no_vasopressor'
end
{%- endmacro %}

{# Hypoxia domain, from the device and its flow (read together, on one row):
   4 positive pressure, 3 high-flow / facemask / non-rebreather / venturi or a nasal cannula
   above 6 L/min, 2 nasal cannula at <= 6 L/min or flow unknown, or blow-by.
   No device recorded counts as no oxygen. #}
{% macro crs_hypoxia_grade(oxygen_device, oxygen_flow_l_min) -%}
case
    when {{ oxygen_device }} in ('cpap', 'bipap', 'mechanical_ventilation') then 4
    when {{ oxygen_device }} in ('high_flow_nasal_cannula', 'facemask', 'non_rebreather', 'venturi')
        or ({{ oxygen_device }} = 'nasal_cannula' and {{ oxygen_flow_l_min }} > 6) then 3
    when {{ oxygen_device }} in ('nasal_cannula', 'blow_by') then 2
    else 0
end
{%- endmacro %}

{% macro crs_hypoxia_driver(hypoxia_grade) -%}
case {{ hypoxia_grade }}
    when 4 then 'positive_pressure'
    when 3 then 'high_flow_oxygen'
    when 2 then 'low_flow_oxygen'
end
{%- endmacro %}

{# Organ grade of a day: the more severe domain; on a tie the hypotension sign is named. #}
{% macro crs_organ_grade(hypotension_grade, hypoxia_grade) -%}
greatest({{ hypotension_grade }}, {{ hypoxia_grade }})
{%- endmacro %}

{% macro crs_organ_driver(hypotension_grade, hypotension_driver, hypoxia_grade) -%}
case
    when greatest({{ hypotension_grade }}, {{ hypoxia_grade }}) = 0 then null
    when {{ hypotension_grade }} >= {{ hypoxia_grade }} then {{ hypotension_driver }}
    else {{ crs_hypoxia_driver(hypoxia_grade) }}
end
{%- endmacro %}

{# A qualifying fever: tmax >= 38.0 degC not attributed to another cause. #}
{% macro crs_fever_day(tmax_c, fever_other_cause) -%}
(coalesce({{ tmax_c }} >= 38.0, false) and coalesce({{ fever_other_cause }}, 'no') <> 'yes')
{%- endmacro %}

{# The drug classes that make a day a "treated day" (any indication). #}
{% macro crs_anti_cytokine_classes() -%}
('anti_il6', 'anti_il1', 'corticosteroid')
{%- endmacro %}
