"""The European Standard Population 2013 (Eurostat, 2013 revision), as PHE uses it for directly
standardised rates: nineteen 5-year age bands, 0-4 .. 85-89 and 90+, summing to 100,000.
"""
ESP2013 = (5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000, 7000, 6500, 6000, 5500, 5000, 4000,
           2500, 1500, 1000)
ESP_BANDS = tuple(f"{5 * i}-{5 * i + 4}" for i in range(18)) + ("90+",)
