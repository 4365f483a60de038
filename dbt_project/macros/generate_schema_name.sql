{# Schemas are the layer names themselves (raw, staging, intermediate, mart, ...),
   not <target>_<layer>: analysts query mart.patient_outcomes. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name is not none else target.schema }}
{%- endmacro %}
