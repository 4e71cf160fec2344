"""Rates by PHE's methods: confidence intervals, the European Standard Population, directly and
indirectly standardised rates, the slope and relative indices of inequality, and disclosure
control. Plain arrays in, tables out: nothing here touches the store."""
