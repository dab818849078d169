print("lo")
