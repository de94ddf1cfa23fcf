"""A small analysis script with the mistakes Spark is built to catch."""
import ast

import dask.dataframe as dd
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

with open("config.yaml") as fh:
    config = yaml.load(fh)

np.random.seed(42)

sales = pd.read_csv("sales.csv")
sales["tags"] = sales["tags"].apply(eval)
sales.dropna(subset=["region"], inplace=True)
sales["region"] = sales["region"].apply(lambda r: r.lower())
sales["total"] = sales.apply(lambda row: row["price"] * row["quantity"], axis=1)
top = sales.sort_values("total", ascending=False).head(10)

for i, row in sales.iterrows():
    sales.loc[i, "discounted"] = row["total"] * 0.9

matrix = sales[["price", "quantity"]].values

events = dd.read_csv("events-*.csv")
first_rows = events.iloc[0:5]
events.fillna(0, inplace=True)

fig, ax = plt.subplots()
ax.plot(top["total"])
plt.title("Top sales")
for region, group in sales.groupby("region"):
    plt.figure()
    plt.plot(group["total"])
    plt.show()

X = StandardScaler().fit_transform(sales[["price", "quantity"]])
X_train, X_test, y_train, y_test = train_test_split(X, sales["returned"], random_state=0)
model = LogisticRegression().fit(X_train, y_train)
print(model.score(X_test, y_test), ast.literal_eval("[1]"), config, first_rows, matrix)
