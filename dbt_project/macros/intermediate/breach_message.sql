{#
  A contract breach in words, for the quality tables and the centres' query files, naming
  what the rule allows: "bm_blasts_pct_pre: 134.8 outside 0–100", "dose: 0 is not > 0",
  "sex: 'U' is not one of m, f". The arguments are SQL expressions of the breach's column, value, rule and allowed.
#}
{% macro breach_message(column, value, rule, allowed) -%}
case {{ rule }}
    when 'required_missing' then {{ column }} || ' is required but empty'
    when 'unknown_code' then {{ column }} || ': ''' || {{ value }} || ''' is not ' || coalesce({{ allowed }}, 'a known code')
    when 'unparsable' then {{ column }} || ': ''' || {{ value }} || ''' cannot be read as ' || coalesce({{ allowed }}, 'the declared format')
    when 'out_of_range' then {{ column }} || ': ' || {{ value }}
        || case when {{ allowed }} similar to '[<>].*' then ' is not ' else ' outside ' end
        || coalesce({{ allowed }}, 'the allowed range')
end
{%- endmacro %}
