total = 0
for i in range(1, 100000001):
    total += i
print(total)
